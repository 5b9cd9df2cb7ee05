package check

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// SQL checks: connect to database as login/passwd, run request, up when
// it returns at least one row. ldirectord's DBI calls have no timeout;
// here the whole dialogue is bounded by negotiatetimeout. One connection
// per check, no pool: nothing stays open between checks.

// The driver logs connection errors on its own; the check reports them.
func init() { mysql.SetLogger(log.New(io.Discard, "", 0)) }

func sqlQuery(s *Spec) (string, error) {
	q := strings.TrimPrefix(s.Request, "/")
	if s.Login == "" || q == "" {
		return "", errors.New("needs login and request (an SQL query), as ldirectord does")
	}
	return q, nil
}

func checkMySQL(ctx context.Context, s *Spec) (string, error) {
	q, err := sqlQuery(s)
	if err != nil {
		return "", fmt.Errorf("mysql: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = s.Login, s.Passwd, s.Database
	cfg.Net, cfg.Addr = "tcp", s.HostPort()
	if d, ok := ctx.Deadline(); ok {
		t := timeUntil(d)
		cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = t, t, t
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return "", fmt.Errorf("mysql: %w", err)
	}
	c, err := conn.Connect(ctx)
	if err != nil {
		return "", fmt.Errorf("mysql connect: %w", err)
	}
	defer c.Close()
	qc, ok := c.(driver.QueryerContext)
	if !ok {
		return "", errors.New("mysql: driver cannot query")
	}
	rows, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		return "", fmt.Errorf("mysql query: %w", err)
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return "", fmt.Errorf("mysql: %q returned no rows", q)
		}
		return "", fmt.Errorf("mysql: %w", err)
	}
	return "mysql: " + q + ": rows", nil
}

// pgQuote quotes a libpq keyword/value.
func pgQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func checkPgSQL(ctx context.Context, s *Spec) (string, error) {
	q, err := sqlQuery(s)
	if err != nil {
		return "", fmt.Errorf("pgsql: %w", err)
	}
	db := s.Database
	if db == "" {
		db = s.Login
	}
	dsn := "host=" + pgQuote(s.Addr.String()) + " port=" + strconv.Itoa(int(s.Port)) +
		" user=" + pgQuote(s.Login) + " password=" + pgQuote(s.Passwd) +
		" dbname=" + pgQuote(db) + " sslmode=prefer application_name=ocf-lvs-check"
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("pgsql: %w", err)
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("pgsql connect: %w", err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", fmt.Errorf("pgsql query: %w", err)
	}
	has := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("pgsql query: %w", err)
	}
	if !has {
		return "", fmt.Errorf("pgsql: %q returned no rows", q)
	}
	return "pgsql: " + q + ": rows", nil
}

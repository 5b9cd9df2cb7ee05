package config

func parseTOML(name string, data []byte, o Options) (*Config, error) {
	return nil, Errors{{File: name, Msg: "TOML not implemented yet"}}
}

func parseKeepalived(name string, data []byte, o Options) (*Config, error) {
	return nil, Errors{{File: name, Msg: "keepalived.conf not implemented yet"}}
}

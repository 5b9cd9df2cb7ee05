package config

func parseKeepalived(name string, data []byte, o Options) (*Config, error) {
	return nil, Errors{{File: name, Msg: "keepalived.conf not implemented yet"}}
}

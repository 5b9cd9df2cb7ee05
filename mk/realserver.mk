# The real-server helper (lib/realserver, agents/realserver, lvsd
# realserver): its VIP list parser is fuzzed by make test.
FUZZ += ./lib/realserver:FuzzParseVIPs

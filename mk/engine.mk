# lib/engine (the director daemon): fuzzed sequences of reloads, health events and hand edits
FUZZ += ./lib/engine:FuzzEngineConverges

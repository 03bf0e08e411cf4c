"""Differential testing against a real redis-server: the same request bytes go to both
servers and the replies are compared byte for byte (see `harness`)."""

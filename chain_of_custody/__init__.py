"""Chain of custody: the hash-chained, Merkle-checkpointed, signed log of every action on a case."""

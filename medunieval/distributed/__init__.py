"""Scale-out: deterministic shards, merging shard runs, data-parallel workers, Ray."""

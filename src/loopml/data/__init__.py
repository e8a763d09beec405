"""Pure computation on frames: fingerprints, schemas, profiles."""

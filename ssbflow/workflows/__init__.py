"""jobflow Makers: one dataclass per step, flows composed of Makers."""

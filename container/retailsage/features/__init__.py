"""Feature engineering shared by training, extraction and serving (one code path)."""

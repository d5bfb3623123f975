"""Extract Lambda: raw transactions in S3 -> training channel and scoring rows."""

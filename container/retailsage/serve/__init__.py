"""`serve` mode: Flask under gunicorn for real-time endpoints and Batch Transform."""

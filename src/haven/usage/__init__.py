"""API usage per channel account, and the spend it is estimated to cost."""

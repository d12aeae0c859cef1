"""xsim: a faithful simulator of the X API subset Haven speaks."""

"""Haven: social customer care for regulated businesses."""

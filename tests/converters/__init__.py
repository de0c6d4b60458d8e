"""Tests of garmentparse.converters and the dataset tools."""

"""Test suite: each test states the property it proves."""

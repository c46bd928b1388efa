"""Tests of the local fixture platform (fixtures/)."""

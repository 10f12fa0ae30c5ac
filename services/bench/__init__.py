"""``predis bench``: measurements whose output the team reads. Commands, not timed tests."""

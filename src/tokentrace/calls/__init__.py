"""What a call is, whatever made it: its records, its provider, and what each API family says."""

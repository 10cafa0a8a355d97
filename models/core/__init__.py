"""The pure core: the rules of the hazard loop, with no database, clock, mail or configuration files."""

"""The demo: a simulated year of a city's hazard work, played day by day through the real code paths.

``simulation`` plans and plays the year, ``content`` draws its Chinese text from the phrase data in
``phrases.yaml`` (package data), ``readings`` feeds the monitoring points, ``accounts`` makes one console
account per role. ``hazardloop demo`` (``hazardloop/commands_demo.py``) is the command line over them.
"""

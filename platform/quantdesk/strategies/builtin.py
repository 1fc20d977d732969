"""Built-in strategies; importing this module registers them. (Filled in by the research issue.)"""

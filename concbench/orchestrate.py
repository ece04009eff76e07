"""placeholder"""
def add_run_arguments(p): pass
def add_ceiling_arguments(p): pass
COMMANDS = {}

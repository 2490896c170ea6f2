"""The paper table: :mod:`.pipeline` trains and evaluates, :mod:`.tables` renders (entry point: run.py)."""

"""The HTTP edge: one blueprint module per area with its marshmallow schemas. Views validate,
call one service function and shape the response; errors are mapped in ``errors.py``."""

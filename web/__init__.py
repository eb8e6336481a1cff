"""The screens: the mini-program for phones (``/m/``) and the staff console (``/console/``).

Pages are shells: a Jinja template with the page's words (web/catalogues/) and one JavaScript
module (web/static/js/) that reads and changes everything through the ``/api/v1`` API with the
caller's token, so every permission check is the API's own; a page holds no data of its own and
nothing is protected by being hidden in it. The page list, the navigation and each role's home
are in web/pages.yaml (docs/screens.md).
"""

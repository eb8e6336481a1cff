"""factoring_recourse: filled by its branch (empty while nothing in the schema changes)

Revision ID: 0020_factoring_recourse
Revises: 0019_clearing
Create Date: 2026-12-04 17:55:00
"""

from collections.abc import Sequence

revision: str = '0020_factoring_recourse'
down_revision: str | None = '0019_clearing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

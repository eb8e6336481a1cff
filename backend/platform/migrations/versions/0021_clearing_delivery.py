"""clearing_delivery: filled by its branch (empty while nothing in the schema changes)

Revision ID: 0021_clearing_delivery
Revises: 0020_factoring_recourse
Create Date: 2026-12-04 17:55:00
"""

from collections.abc import Sequence

revision: str = '0021_clearing_delivery'
down_revision: str | None = '0020_factoring_recourse'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

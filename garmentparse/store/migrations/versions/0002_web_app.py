"""web app: product attributes, gallery-by-confidence and queue-by-head indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=True))
    op.create_index('ix_garments_confidence_id', 'garments', ['confidence', 'id'])
    op.create_index('ix_accepted_head_state_probability', 'accepted', ['head', 'state', 'probability', 'garment_id'])


def downgrade() -> None:
    op.drop_index('ix_accepted_head_state_probability', table_name='accepted')
    op.drop_index('ix_garments_confidence_id', table_name='garments')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('attributes')

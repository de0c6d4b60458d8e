"""closed loop: prediction margins, garment matches between two runs, session versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

UTF8MB4 = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def _margin(top_k) -> float:
    probs = sorted((float(p) for _, p in (top_k or [])), reverse=True)
    if len(probs) < 2:
        return 1.0
    return probs[0] - probs[1]


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('accepted', schema=None) as batch_op:
        batch_op.add_column(sa.Column('margin', sa.Double(), nullable=False, server_default='1'))
    with op.batch_alter_table('garments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('margin', sa.Double(), nullable=False, server_default='1'))
    op.create_index('ix_accepted_head_state_margin', 'accepted', ['head', 'state', 'margin', 'garment_id'])
    op.create_index('ix_garments_queue_margin', 'garments', ['state', 'margin', 'id'])
    op.create_table('garment_matches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_a', sa.Integer(), nullable=False),
    sa.Column('run_b', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('garment_a', sa.Integer(), nullable=True),
    sa.Column('garment_b', sa.Integer(), nullable=True),
    sa.Column('iou', sa.Double(), nullable=False),
    sa.Column('disagreements', sa.Integer(), nullable=False),
    sa.Column('heads', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_a'], ['tag_runs.id'], name=op.f('fk_garment_matches_run_a'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_b'], ['tag_runs.id'], name=op.f('fk_garment_matches_run_b'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], name=op.f('fk_garment_matches_photo_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['garment_a'], ['garments.id'], name=op.f('fk_garment_matches_garment_a'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['garment_b'], ['garments.id'], name=op.f('fk_garment_matches_garment_b'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_garment_matches')),
    **UTF8MB4)
    op.create_index('ix_garment_matches_pair', 'garment_matches', ['run_a', 'run_b', 'disagreements', 'garment_a'])
    op.create_index('ix_garment_matches_photo', 'garment_matches', ['run_a', 'run_b', 'photo_id'])
    op.create_index('ix_garment_matches_garment_a', 'garment_matches', ['garment_a'])
    op.create_index('ix_garment_matches_garment_b', 'garment_matches', ['garment_b'])
    # margins of what is already there: top-1 minus top-2 probability, per head and lowest per garment
    conn = op.get_bind()
    accepted = sa.table('accepted', sa.column('garment_id'), sa.column('head'), sa.column('margin'))
    garments = sa.table('garments', sa.column('id'), sa.column('margin'))
    predictions = sa.table('predictions', sa.column('garment_id'), sa.column('head'), sa.column('top_k', sa.JSON))
    lowest: dict[int, float] = {}
    for gid, head, top_k in conn.execute(sa.select(predictions.c.garment_id, predictions.c.head, predictions.c.top_k)):
        m = _margin(top_k)
        if m < 1.0:
            conn.execute(sa.update(accepted).where(accepted.c.garment_id == gid, accepted.c.head == head)
                         .values(margin=m))
            lowest[gid] = min(m, lowest.get(gid, 1.0))
    for gid, m in lowest.items():
        conn.execute(sa.update(garments).where(garments.c.id == gid).values(margin=m))


def downgrade() -> None:
    op.drop_table('garment_matches')
    op.drop_index('ix_garments_queue_margin', table_name='garments')
    op.drop_index('ix_accepted_head_state_margin', table_name='accepted')
    with op.batch_alter_table('garments', schema=None) as batch_op:
        batch_op.drop_column('margin')
    with op.batch_alter_table('accepted', schema=None) as batch_op:
        batch_op.drop_column('margin')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')

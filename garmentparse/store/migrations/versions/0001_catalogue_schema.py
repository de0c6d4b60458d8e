"""catalogue schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


# MySQL/MariaDB: Korean product names and comments need 4-byte UTF-8 whatever the server's default.
UTF8MB4 = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}  # bin: paths and names compare exactly


def upgrade() -> None:
    op.create_table('blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary().with_variant(mysql.LONGBLOB(), 'mysql', 'mariadb'), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs')),
    **UTF8MB4,
    )
    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('sku', name=op.f('uq_products_sku')),
    **UTF8MB4,
    )
    op.create_table('tag_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=1024), nullable=False),
    sa.Column('images_root', sa.String(length=1024), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_runs')),
    sa.UniqueConstraint('key', name=op.f('uq_tag_runs_key')),
    **UTF8MB4,
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'reviewer', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name')),
    **UTF8MB4,
    )
    op.create_table('photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('blob_sha256', sa.String(length=64), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256'], name=op.f('fk_photos_blob_sha256')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_photos_product_id'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photos')),
    sa.UniqueConstraint('path', name=op.f('uq_photos_path')),
    **UTF8MB4,
    )
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photos_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photos_sha256'), ['sha256'], unique=False)

    op.create_table('garments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('part', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('x0', sa.Double(), nullable=False),
    sa.Column('y0', sa.Double(), nullable=False),
    sa.Column('x1', sa.Double(), nullable=False),
    sa.Column('y1', sa.Double(), nullable=False),
    sa.Column('mask_height', sa.Integer(), nullable=False),
    sa.Column('mask_width', sa.Integer(), nullable=False),
    sa.Column('mask_counts', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('predicted', 'confirmed', 'corrected', 'rejected')", name=op.f('ck_garments_state')),
    sa.ForeignKeyConstraint(['photo_id'], ['photos.id'], name=op.f('fk_garments_photo_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['tag_runs.id'], name=op.f('fk_garments_run_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_garments')),
    sa.UniqueConstraint('run_id', 'photo_id', 'position', name=op.f('uq_garments_run_id_photo_id_position')),
    **UTF8MB4,
    )
    with op.batch_alter_table('garments', schema=None) as batch_op:
        batch_op.create_index('ix_garments_part_id', ['part', 'id'], unique=False)
        batch_op.create_index('ix_garments_photo_id', ['photo_id'], unique=False)
        batch_op.create_index('ix_garments_queue', ['state', 'confidence', 'id'], unique=False)
        batch_op.create_index('ix_garments_run_id_id', ['run_id', 'id'], unique=False)
        batch_op.create_index('ix_garments_state_id', ['state', 'id'], unique=False)

    op.create_table('accepted',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('garment_id', sa.Integer(), nullable=False),
    sa.Column('head', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=True),
    sa.Column('probability', sa.Double(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.CheckConstraint("state IN ('predicted', 'confirmed', 'corrected', 'rejected')", name=op.f('ck_accepted_state')),
    sa.ForeignKeyConstraint(['garment_id'], ['garments.id'], name=op.f('fk_accepted_garment_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accepted')),
    sa.UniqueConstraint('garment_id', 'head', name=op.f('uq_accepted_garment_id_head')),
    **UTF8MB4,
    )
    with op.batch_alter_table('accepted', schema=None) as batch_op:
        batch_op.create_index('ix_accepted_head_value_garment_id', ['head', 'value', 'garment_id'], unique=False)

    op.create_table('corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('garment_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('head', sa.String(length=32), nullable=False),
    sa.Column('old_value', sa.String(length=256), nullable=True),
    sa.Column('new_value', sa.String(length=256), nullable=True),
    sa.Column('old_state', sa.String(length=16), nullable=False),
    sa.Column('new_state', sa.String(length=16), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['garment_id'], ['garments.id'], name=op.f('fk_corrections_garment_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrections')),
    **UTF8MB4,
    )
    with op.batch_alter_table('corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_corrections_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_corrections_garment_id_version', ['garment_id', 'version'], unique=False)
        batch_op.create_index(batch_op.f('ix_corrections_username'), ['username'], unique=False)

    op.create_table('predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('garment_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('head', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=256), nullable=True),
    sa.Column('probability', sa.Double(), nullable=False),
    sa.Column('top_k', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['garment_id'], ['garments.id'], name=op.f('fk_predictions_garment_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['tag_runs.id'], name=op.f('fk_predictions_run_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('garment_id', 'head', name=op.f('uq_predictions_garment_id_head')),
    **UTF8MB4,
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_predictions_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_predictions_run_id'))

    op.drop_table('predictions')
    with op.batch_alter_table('corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_corrections_username'))
        batch_op.drop_index('ix_corrections_garment_id_version')
        batch_op.drop_index(batch_op.f('ix_corrections_created_at'))

    op.drop_table('corrections')
    with op.batch_alter_table('accepted', schema=None) as batch_op:
        batch_op.drop_index('ix_accepted_head_value_garment_id')

    op.drop_table('accepted')
    with op.batch_alter_table('garments', schema=None) as batch_op:
        batch_op.drop_index('ix_garments_state_id')
        batch_op.drop_index('ix_garments_run_id_id')
        batch_op.drop_index('ix_garments_queue')
        batch_op.drop_index('ix_garments_photo_id')
        batch_op.drop_index('ix_garments_part_id')

    op.drop_table('garments')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photos_sha256'))
        batch_op.drop_index(batch_op.f('ix_photos_product_id'))

    op.drop_table('photos')
    op.drop_table('users')
    op.drop_table('tag_runs')
    op.drop_table('products')
    op.drop_table('blobs')

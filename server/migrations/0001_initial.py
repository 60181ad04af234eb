from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from home_idp.server.rbac.models import PolicyEffect, UserStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('actor', fields.CharField(db_index=True, max_length=64)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('target', fields.CharField(db_index=True, max_length=200)),
                ('project', fields.CharField(null=True, db_index=True, max_length=63)),
                ('outcome', fields.CharField(default='ok', max_length=16)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rbac_audit_event', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Project',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=63)),
                ('description', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rbac_project', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Role',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=63)),
                ('description', fields.CharField(default='', max_length=500)),
                ('builtin', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rbac_role', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Policy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('role', fields.ForeignKeyField('home_idp.Role', source_field='role_id', db_constraint=True, to_field='id', related_name='policies', on_delete=OnDelete.CASCADE)),
                ('effect', fields.CharEnumField(description='ALLOW: allow\nDENY: deny', enum_type=PolicyEffect, max_length=8)),
                ('resource', fields.CharField(max_length=32)),
                ('action', fields.CharField(max_length=32)),
                ('project_pattern', fields.CharField(default='*', max_length=63)),
            ],
            options={'table': 'rbac_policy', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=40)),
                ('password_hash', fields.CharField(max_length=255)),
                ('status', fields.CharEnumField(default=UserStatus.PENDING, description='PENDING: pending\nACTIVE: active\nDISABLED: disabled', enum_type=UserStatus, max_length=16)),
                ('is_admin', fields.BooleanField(default=False)),
                ('token_version', fields.IntField(default=1)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'rbac_user', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('home_idp.User', source_field='user_id', db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rbac_api_token', 'app': 'home_idp', 'unique_together': (('user', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('home_idp.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('project', fields.ForeignKeyField('home_idp.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.ForeignKeyField('home_idp.Role', source_field='role_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'rbac_membership', 'app': 'home_idp', 'unique_together': (('user', 'project'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

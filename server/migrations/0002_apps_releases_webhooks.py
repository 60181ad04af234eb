from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from home_idp.server.deploy.models import DeliveryOutcome
from home_idp.server.pipeline.models import ReleaseStatus, StepState
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='App',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.ForeignKeyField('home_idp.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='apps', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=63)),
                ('source_repo', fields.CharField(max_length=500)),
                ('source_ref', fields.CharField(default='main', max_length=255)),
                ('context_path', fields.CharField(default='.', max_length=255)),
                ('port', fields.IntField(default=8080)),
                ('replicas', fields.IntField(default=1)),
                ('health_path', fields.CharField(default='/', max_length=255)),
                ('env', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'app', 'app': 'home_idp', 'unique_together': (('project', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AppSecret',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('home_idp.App', source_field='app_id', db_constraint=True, to_field='id', related_name='secrets', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=253)),
                ('ciphertext', fields.TextField(unique=False)),
                ('updated_by', fields.CharField(max_length=40)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'app_secret', 'app': 'home_idp', 'unique_together': (('app', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DockerfileVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('home_idp.App', source_field='app_id', db_constraint=True, to_field='id', related_name='dockerfile_versions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('content', fields.TextField(unique=False)),
                ('author', fields.CharField(max_length=40)),
                ('message', fields.CharField(max_length=500)),
                ('lint_findings', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dockerfile_version', 'app': 'home_idp', 'unique_together': (('app', 'number'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Release',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.ForeignKeyField('home_idp.App', source_field='app_id', db_constraint=True, to_field='id', related_name='releases', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('dockerfile_version', fields.ForeignKeyField('home_idp.DockerfileVersion', source_field='dockerfile_version_id', db_constraint=True, to_field='id', related_name='releases', on_delete=OnDelete.CASCADE)),
                ('trigger', fields.CharField(max_length=32)),
                ('created_by', fields.CharField(max_length=40)),
                ('status', fields.CharEnumField(default=ReleaseStatus.RUNNING, description='RUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed\nCANCELLED: cancelled', enum_type=ReleaseStatus, max_length=16)),
                ('commit_sha', fields.CharField(null=True, db_index=True, max_length=64)),
                ('image', fields.CharField(null=True, max_length=500)),
                ('digest', fields.CharField(null=True, max_length=100)),
                ('trace_id', fields.CharField(null=True, max_length=32)),
                ('error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'release', 'app': 'home_idp', 'unique_together': (('app', 'number'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReleaseEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('home_idp.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('app_id', fields.IntField(db_index=True)),
                ('project', fields.CharField(max_length=63)),
                ('step', fields.CharField(null=True, max_length=40)),
                ('state', fields.CharField(max_length=16)),
                ('message', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'release_event', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReleaseStep',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('home_idp.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='steps', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('name', fields.CharField(max_length=40)),
                ('state', fields.CharEnumField(default=StepState.PENDING, db_index=True, description='PENDING: pending\nRUNNING: running\nWAITING: waiting\nSUCCEEDED: succeeded\nFAILED: failed\nCANCELLED: cancelled', enum_type=StepState, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('deadline', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.TextField(null=True, unique=False)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'release_step', 'app': 'home_idp', 'unique_together': (('release', 'position'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('step', fields.OneToOneField('home_idp.ReleaseStep', source_field='step_id', db_constraint=True, to_field='id', related_name='job', on_delete=OnDelete.CASCADE)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('leased_by', fields.CharField(null=True, max_length=64)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'job', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharField(db_index=True, max_length=16)),
                ('event', fields.CharField(max_length=64)),
                ('delivery_id', fields.CharField(db_index=True, max_length=128)),
                ('dedupe_key', fields.CharField(null=True, unique=True, max_length=200)),
                ('signature_ok', fields.BooleanField()),
                ('outcome', fields.CharEnumField(db_index=True, description='ACCEPTED: accepted\nDUPLICATE: duplicate\nIGNORED: ignored\nREJECTED: rejected\nFAILED: failed', enum_type=DeliveryOutcome, max_length=16)),
                ('detail', fields.TextField(default='', unique=False)),
                ('body', fields.TextField(null=True, unique=False)),
                ('headers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('redelivery_of', fields.ForeignKeyField('home_idp.WebhookDelivery', source_field='redelivery_of_id', null=True, db_constraint=True, to_field='id', related_name='redeliveries', on_delete=OnDelete.SET_NULL)),
                ('received_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GitPush',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha', fields.CharField(unique=True, max_length=64)),
                ('delivery', fields.ForeignKeyField('home_idp.WebhookDelivery', source_field='delivery_id', null=True, db_constraint=True, to_field='id', related_name='pushes', on_delete=OnDelete.SET_NULL)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'git_push', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

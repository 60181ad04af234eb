from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from home_idp.server.pipeline.models import ReleaseStatus
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0009_source_credentials')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='auto_deploy',
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name='App',
            name='source_checked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='App',
            name='source_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='App',
            name='source_seen_sha',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='App',
            name='source_webhook_ciphertext',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='App',
            name='watch_paths',
            field=fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AlterField(
            model_name='Release',
            name='status',
            field=fields.CharEnumField(default=ReleaseStatus.RUNNING, description='RUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed\nCANCELLED: cancelled\nSUPERSEDED: superseded', enum_type=ReleaseStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Release',
            name='source_author',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Release',
            name='source_message',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Release',
            name='source_sha',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Release',
            name='source_url',
            field=fields.CharField(null=True, max_length=500),
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0003_builds_registry_logs')]

    initial = False

    operations = [
        ops.AddField(
            model_name='App',
            name='ingress_host',
            field=fields.CharField(null=True, max_length=253),
        ),
        ops.AddField(
            model_name='App',
            name='live_release_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Release',
            name='manifests',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Release',
            name='manifests_before',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Release',
            name='manifests_sha',
            field=fields.CharField(null=True, db_index=True, max_length=64),
        ),
        ops.AddField(
            model_name='Release',
            name='url',
            field=fields.CharField(null=True, max_length=500),
        ),
    ]

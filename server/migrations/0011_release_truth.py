from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("home_idp", "0010_push_to_deploy")]

    initial = False

    operations = [
        ops.AddField(
            model_name="App",
            name="auto_rollback",
            field=fields.BooleanField(default=True),
        ),
        ops.AddField(
            model_name="App",
            name="stability_seconds",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="Release",
            name="rolled_back_by_id",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="Release",
            name="settings",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="Release",
            name="verify_until",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]

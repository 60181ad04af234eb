from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0004_deploy_manifests_rollout')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Span',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('trace_id', fields.CharField(max_length=32)),
                ('span_id', fields.CharField(max_length=16)),
                ('parent_span_id', fields.CharField(null=True, max_length=16)),
                ('name', fields.CharField(max_length=512)),
                ('kind', fields.CharField(max_length=12)),
                ('start_ns', fields.BigIntField(db_index=True)),
                ('end_ns', fields.BigIntField()),
                ('status', fields.CharField(max_length=8)),
                ('status_message', fields.TextField(default='', unique=False)),
                ('attributes', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('events', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('service_name', fields.CharField(default='', max_length=255)),
                ('project', fields.CharField(null=True, db_index=True, max_length=63)),
                ('app', fields.CharField(null=True, max_length=63)),
            ],
            options={'table': 'span', 'app': 'home_idp', 'unique_together': (('trace_id', 'span_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Release',
            name='trace_id',
            field=fields.CharField(null=True, db_index=True, max_length=32),
        ),
        ops.AddField(
            model_name='Release',
            name='span_id',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='ReleaseStep',
            name='span_id',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0002_apps_releases_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BuildLogLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('home_idp.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='log_lines', on_delete=OnDelete.CASCADE)),
                ('step', fields.CharField(max_length=40)),
                ('seq', fields.IntField()),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'build_log_line', 'app': 'home_idp', 'unique_together': (('release', 'seq'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegistryAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('project', fields.OneToOneField('home_idp.Project', source_field='project_id', db_constraint=True, to_field='id', related_name='registry_account', on_delete=OnDelete.CASCADE)),
                ('ciphertext', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'registry_account', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegistryPush',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('repository', fields.CharField(max_length=255)),
                ('tag', fields.CharField(null=True, max_length=128)),
                ('digest', fields.CharField(max_length=100)),
                ('delivery', fields.ForeignKeyField('home_idp.WebhookDelivery', source_field='delivery_id', null=True, db_constraint=True, to_field='id', related_name='image_pushes', on_delete=OnDelete.SET_NULL)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'registry_push', 'app': 'home_idp', 'unique_together': (('repository', 'tag', 'digest'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

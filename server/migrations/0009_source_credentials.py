from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('home_idp', '0008_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SourceCredential',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app', fields.OneToOneField('home_idp.App', source_field='app_id', db_constraint=True, to_field='id', related_name='source_credential', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('origin', fields.CharField(max_length=300)),
                ('username', fields.CharField(null=True, max_length=100)),
                ('ciphertext', fields.TextField(unique=False)),
                ('updated_by', fields.CharField(max_length=40)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'app_source_credential', 'app': 'home_idp', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]

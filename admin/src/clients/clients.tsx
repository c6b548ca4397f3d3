import { CursorPagination } from '../CursorPagination';
import DownloadIcon from '@mui/icons-material/Download';
import { Create, CreateButton, Datagrid, DeleteButton, Edit, EditButton, List, NumberField, regex, required, SimpleForm, TextField, TextInput, TopToolbar, Button } from 'react-admin';
import { LOCAL_ZONE } from '../format';
import { ClientImportButton } from './ClientImport';

const filters = [
  <TextInput key="tag" source="tag" label="Tag (exact)" alwaysOn resettable />,
  <TextInput key="mobile_operator_code" source="mobile_operator_code" label="Operator code" alwaysOn resettable validate={regex(/^[0-9]{3}$/, 'three digits')} />,
];

const Actions = () => (
  <TopToolbar>
    <CreateButton label="New client" />
    <ClientImportButton />
    {/* A plain link: the browser downloads the stream with the session cookie. */}
    <Button label="Export CSV" href="/api/clients/export/" download="clients.csv" component="a">
      <DownloadIcon />
    </Button>
  </TopToolbar>
);

/** No empty-page placeholder: the import and export buttons stay in reach when there are no clients yet. */
export const ClientList = () => (
  <List filters={filters} actions={<Actions />} empty={false} sort={{ field: 'id', order: 'DESC' }} perPage={25} pagination={<CursorPagination />} title="Clients">
    <Datagrid rowClick={false} bulkActionButtons={false}>
      <NumberField source="id" label="#" />
      <TextField source="phone_number" label="Phone" sortable={false} />
      <TextField source="mobile_operator_code" label="Operator code" sortable={false} />
      <TextField source="tag" label="Tag" sortable={false} emptyText="—" />
      <TextField source="timezone" label="Time zone" sortable={false} />
      <EditButton />
      <DeleteButton mutationMode="pessimistic" confirmTitle="Delete this client?" confirmContent="Messages already recorded for the client are kept." />
    </Datagrid>
  </List>
);

/** An empty operator code is left out (the API derives it from the phone); an empty tag clears it. */
const toClientInput = ({ mobile_operator_code, ...rest }: Record<string, unknown>) => ({ ...rest, ...(mobile_operator_code ? { mobile_operator_code } : {}) });

function ClientFields() {
  return (
    <>
      <TextInput source="phone_number" label="Phone number" helperText="7 followed by 10 digits, e.g. 79161234567" validate={required()} />
      <TextInput source="mobile_operator_code" label="Operator code" helperText="Digits 2–4 of the phone number; leave empty to take them from it" />
      <TextInput source="tag" label="Tag" helperText="A free label for filtering mailings (optional)" />
      <TextInput source="timezone" label="Time zone" helperText="IANA name, e.g. Europe/Moscow; send windows use it" validate={required()} />
    </>
  );
}

export const ClientCreate = () => (
  <Create title="New client" redirect="list" transform={toClientInput}>
    <SimpleForm defaultValues={{ timezone: LOCAL_ZONE }}>
      <ClientFields />
    </SimpleForm>
  </Create>
);

export const ClientEdit = () => (
  <Edit title="Edit client" mutationMode="pessimistic" redirect="list" transform={toClientInput}>
    <SimpleForm>
      <ClientFields />
    </SimpleForm>
  </Edit>
);

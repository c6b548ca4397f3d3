import { CursorPagination } from '../CursorPagination';
import { CreateButton, Datagrid, FunctionField, List, NumberField, SelectInput, TextField, TopToolbar } from 'react-admin';
import { MAILING_STATUSES, type Mailing } from '../api-types';
import { describeFilter, describeWindow, InstantField, StatusField } from '../format';

const filters = [<SelectInput key="status" source="status" label="Status" choices={MAILING_STATUSES.map((s) => ({ id: s, name: s }))} alwaysOn emptyText="any status" />];

/** CreateButton hides itself from a viewer (authProvider.canAccess). */
const Actions = () => (
  <TopToolbar>
    <CreateButton label="New mailing" />
  </TopToolbar>
);

/** Newest first; the API sorts by id only, so only the # column sorts (either way). */
export const MailingList = () => (
  <List filters={filters} actions={<Actions />} empty={false} sort={{ field: 'id', order: 'DESC' }} perPage={25} pagination={<CursorPagination />} title="Mailings">
    <Datagrid rowClick="show" bulkActionButtons={false}>
      <NumberField source="id" label="#" />
      <StatusField label="Status" />
      <TextField source="text" label="Text" sortable={false} sx={{ display: 'block', maxWidth: 320, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }} />
      <InstantField source="start_at" label="Starts" />
      <InstantField source="end_at" label="Ends" />
      <FunctionField<Mailing> label="Audience" render={(m) => describeFilter(m.filter)} />
      <FunctionField<Mailing> label="Send window" render={(m) => describeWindow(m.send_window)} />
    </Datagrid>
  </List>
);

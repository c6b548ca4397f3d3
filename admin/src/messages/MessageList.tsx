import { CursorPagination } from '../CursorPagination';
import { Datagrid, FunctionField, List, NumberField, NumberInput, ReferenceField, SelectInput, TextField } from 'react-admin';
import { MESSAGE_STATUSES, type Message } from '../api-types';
import { InstantField, StatusField } from '../format';

const filters = [
  <NumberInput key="mailing_id" source="mailing_id" label="Mailing #" alwaysOn min={1} />,
  <NumberInput key="client_id" source="client_id" label="Client #" alwaysOn min={1} />,
  <SelectInput key="status" source="status" label="Status" choices={MESSAGE_STATUSES.map((s) => ({ id: s, name: s }))} alwaysOn emptyText="any status" />,
];

/** The columns of a message, in the message list and under each mailing. */
export function MessageColumns({ showMailing = true }: { showMailing?: boolean }) {
  return (
    <Datagrid bulkActionButtons={false} rowClick={false}>
      <NumberField source="id" label="Message #" />
      {showMailing && <ReferenceField source="mailing_id" reference="mailings" label="Mailing" link="show" sortable={false} />}
      <FunctionField<Message> label="Client" render={(m) => (m.client_id === null ? 'deleted' : `#${m.client_id}`)} />
      <TextField source="phone" label="Phone" sortable={false} emptyText="—" />
      <StatusField label="Status" />
      <NumberField source="attempts" label="Attempts" sortable={false} />
      <InstantField source="due_at" label="Due" />
      <InstantField source="sent_at" label="Sent" empty="not sent" />
      <TextField source="last_error" label="Last error" sortable={false} emptyText="—" />
    </Datagrid>
  );
}

export const MessageList = () => (
  <List filters={filters} sort={{ field: 'id', order: 'DESC' }} perPage={25} pagination={<CursorPagination />} title="Messages" actions={false}>
    <MessageColumns />
  </List>
);

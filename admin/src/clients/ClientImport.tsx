import UploadIcon from '@mui/icons-material/Upload';
import { Alert, Dialog, DialogActions, DialogContent, DialogTitle, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, useCanAccess, useDataProvider, useRefresh } from 'react-admin';
import type { ClientImportResult } from '../api-types';
import type { AppDataProvider } from '../dataProvider';

/** Shown at most; the API lists up to 1,000 rejected rows. */
const SHOWN_ERRORS = 50;

function ImportResult({ result }: { result: ClientImportResult }) {
  return (
    <>
      <Alert severity={result.rejected ? 'warning' : 'success'} data-testid="import-result">
        {result.created} created, {result.updated} updated, {result.rejected} rejected.
      </Alert>
      {result.errors.length > 0 && (
        <Table size="small">
          <TableHead>
            <TableRow>
              <TableCell>Line</TableCell>
              <TableCell>Column</TableCell>
              <TableCell>Problem</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {result.errors.slice(0, SHOWN_ERRORS).map((e, i) => (
              <TableRow key={i}>
                <TableCell>{e.line}</TableCell>
                <TableCell>{e.field}</TableCell>
                <TableCell>{e.message}</TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
    </>
  );
}

/** Upserts clients by phone from a CSV file (POST /api/clients/import/); operators only. */
export function ClientImportButton() {
  const { canAccess } = useCanAccess({ action: 'create', resource: 'clients' });
  const dataProvider = useDataProvider<AppDataProvider>();
  const refresh = useRefresh();
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File>();
  const upload = useMutation({ mutationFn: (f: File) => dataProvider.importClients(f), onSuccess: () => refresh() });
  if (!canAccess) return null;
  const close = () => {
    setOpen(false);
    setFile(undefined);
    upload.reset();
  };
  return (
    <>
      <Button label="Import CSV" onClick={() => setOpen(true)}>
        <UploadIcon />
      </Button>
      <Dialog open={open} onClose={close} maxWidth="md" fullWidth>
        <DialogTitle>Import clients from CSV</DialogTitle>
        <DialogContent>
          <Typography variant="body2" gutterBottom>
            A header row, then one client per row: <code>phone_number</code> and <code>timezone</code>, optionally <code>mobile_operator_code</code> and <code>tag</code>. A known
            phone number updates that client; invalid rows are listed and skipped.
          </Typography>
          <input type="file" accept=".csv,text/csv" aria-label="CSV file" onChange={(e) => setFile(e.target.files?.[0])} />
          {upload.error && <Alert severity="error">{upload.error.message}</Alert>}
          {upload.data && <ImportResult result={upload.data} />}
        </DialogContent>
        <DialogActions>
          <Button label="Close" onClick={close} />
          <Button label="Import" variant="contained" disabled={!file || upload.isPending} onClick={() => file && upload.mutate(file)} />
        </DialogActions>
      </Dialog>
    </>
  );
}

import ChevronLeft from '@mui/icons-material/ChevronLeft';
import ChevronRight from '@mui/icons-material/ChevronRight';
import { Box, IconButton, MenuItem, Select, Typography } from '@mui/material';
import { useListContext } from 'react-admin';

const PAGE_SIZES = [10, 25, 50, 100];

/**
 * Previous / next over the API's keyset pages. No total is shown: the API does not count (counting
 * every row costs what OFFSET does), so the pager says which rows are on screen and whether more follow.
 */
export function CursorPagination() {
  const { page, perPage, setPage, setPerPage, hasNextPage, hasPreviousPage, data, isPending } = useListContext();
  const rows = data?.length ?? 0;
  if (isPending || (page === 1 && rows === 0)) return null;
  const first = (page - 1) * perPage + 1;
  return (
    <Box sx={{ display: 'flex', alignItems: 'center', justifyContent: 'flex-end', gap: 1, p: 1 }}>
      <Typography variant="body2">Rows per page</Typography>
      <Select size="small" variant="standard" value={perPage} onChange={(e) => setPerPage(Number(e.target.value))} aria-label="Rows per page">
        {PAGE_SIZES.map((size) => (
          <MenuItem key={size} value={size}>
            {size}
          </MenuItem>
        ))}
      </Select>
      <Typography variant="body2" data-testid="page-range">
        {rows ? `${first}–${first + rows - 1}` : 'none'}
        {hasNextPage ? ', more follow' : ''}
      </Typography>
      <IconButton aria-label="Previous page" disabled={!hasPreviousPage} onClick={() => setPage(page - 1)}>
        <ChevronLeft />
      </IconButton>
      <IconButton aria-label="Next page" disabled={!hasNextPage} onClick={() => setPage(page + 1)}>
        <ChevronRight />
      </IconButton>
    </Box>
  );
}

import LoginIcon from '@mui/icons-material/Login';
import { Alert, Box, Button, Card, CardContent, Typography } from '@mui/material';
import { useQuery } from '@tanstack/react-query';
import { goToSignIn, signInAvailable } from './http';

/**
 * Shown instead of the console when the caller is not signed in and cannot simply be sent to sign in:
 * the API signs nobody in (API keys only), or did not answer.
 */
export function SignInPage() {
  const { data: available, isPending } = useQuery({ queryKey: ['sign-in-available'], queryFn: signInAvailable, retry: false });
  return (
    <Box sx={{ display: 'flex', justifyContent: 'center', mt: 8 }}>
      <Card sx={{ maxWidth: 480 }}>
        <CardContent>
          <Typography variant="h5" gutterBottom>
            Mailing service
          </Typography>
          {isPending ? null : available === false ? (
            <Alert severity="info" data-testid="sign-in-unavailable">
              Signing in is not set up on this server: it has no OpenID Connect provider (OIDC_ISSUER), and its API takes API keys only. Ask its operators to
              configure one, or use the API with a key.
            </Alert>
          ) : (
            <>
              <Typography variant="body1" gutterBottom>
                You are not signed in, or the server could not be reached.
              </Typography>
              <Button variant="contained" startIcon={<LoginIcon />} onClick={() => goToSignIn('/admin/')}>
                Sign in
              </Button>
            </>
          )}
        </CardContent>
      </Card>
    </Box>
  );
}

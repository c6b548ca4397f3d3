import ContactPhoneIcon from '@mui/icons-material/ContactPhone';
import MailIcon from '@mui/icons-material/Mail';
import SmsIcon from '@mui/icons-material/Sms';
import { Typography } from '@mui/material';
import { Admin, AppBar, Layout, type LayoutProps, Resource, TitlePortal } from 'react-admin';
import { BrowserRouter, Route, Routes } from 'react-router';
import { authProvider } from './authProvider';
import { ClientCreate, ClientEdit, ClientList } from './clients/clients';
import { Dashboard } from './dashboard/Dashboard';
import { dataProvider } from './dataProvider';
import { i18nProvider } from './i18n';
import { LOCAL_ZONE } from './format';
import { SignInPage } from './SignInPage';
import { MailingCreate, MailingEdit } from './mailings/MailingForm';
import { MailingList } from './mailings/MailingList';
import { MailingShow } from './mailings/MailingShow';
import { MessageList } from './messages/MessageList';

function ConsoleAppBar() {
  return (
    <AppBar>
      <TitlePortal />
      <Typography variant="body2" sx={{ mr: 2 }} data-testid="time-zone">
        Times in {LOCAL_ZONE}
      </Typography>
    </AppBar>
  );
}

const ConsoleLayout = ({ children }: LayoutProps) => <Layout appBar={ConsoleAppBar}>{children}</Layout>;

/** The console lives under /admin/ with real paths (/admin/mailings/42/show), not #-routes. */
export function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/admin/*" element={<Console />} />
      </Routes>
    </BrowserRouter>
  );
}

function Console() {
  return (
    <Admin
      basename="/admin"
      title="Mailing service"
      dataProvider={dataProvider}
      authProvider={authProvider}
      i18nProvider={i18nProvider}
      loginPage={SignInPage}
      dashboard={Dashboard}
      layout={ConsoleLayout}
      requireAuth
      disableTelemetry
    >
      <Resource name="mailings" list={MailingList} create={MailingCreate} edit={MailingEdit} show={MailingShow} icon={MailIcon} recordRepresentation={(m) => `Mailing #${m.id}`} />
      <Resource name="clients" list={ClientList} create={ClientCreate} edit={ClientEdit} icon={ContactPhoneIcon} recordRepresentation="phone_number" />
      <Resource name="messages" list={MessageList} icon={SmsIcon} recordRepresentation={(m) => `Message #${m.id}`} />
    </Admin>
  );
}

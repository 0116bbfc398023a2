export const KEY = "intake.supervisor.token"; // one supervisor sign-in per tab, shared by wallboard and reports

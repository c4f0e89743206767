// Page sizes of the management API's listings: issue 4 fixes 100 a page for the audit log, and
// the other listings follow it; 1000 at most bounds one request's D1 read, as for /v2 listings.
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

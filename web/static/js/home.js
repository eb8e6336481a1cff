// /m/ and /console/: send the signed-in user to their role's home, anyone else to the login page.
import { homeOf, loginUrl, session } from "/web/static/js/finedge.js";

const s = session.get();
location.replace(s ? homeOf(s.user) : loginUrl());

// The client's own index of tickets taken on this device (localStorage, per user): where to
// look, never the truth. The ticket page reads each ticket from the API and each branch's
// queue (`mine`: the client's open tickets there, taken on any device).
const KEY = (user) => `finedge.client.tickets.${user.id}`;
const MAX = 20;

export function remembered(user) {
  try {
    const list = JSON.parse(localStorage.getItem(KEY(user)) || "[]");
    return Array.isArray(list) ? list.filter((x) => x && x.branch_id && x.ticket_no) : [];
  } catch {
    return [];
  }
}

function save(user, list) {
  localStorage.setItem(KEY(user), JSON.stringify(list.slice(-MAX)));
}

export function remember(user, ticket) {
  const list = remembered(user).filter((x) => !(x.branch_id === ticket.branch_id && x.ticket_no === ticket.ticket_no));
  list.push({ branch_id: ticket.branch_id, ticket_no: ticket.ticket_no, issued_at: ticket.issued_at });
  save(user, list);
}

export function forget(user, ticket) {
  save(
    user,
    remembered(user).filter((x) => !(x.branch_id === ticket.branch_id && x.ticket_no === ticket.ticket_no)),
  );
}

export const OPEN = new Set(["remote", "waiting", "called"]);

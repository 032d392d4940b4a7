// Placeholder until this page is built (issue 7 work in progress).
export default function Page() {
  return <p>Not built yet.</p>;
}

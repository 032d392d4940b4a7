export function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing lives at this address. <a href="/">Back to the start</a>.
      </p>
    </section>
  );
}
